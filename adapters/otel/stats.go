package otel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/cardsaddon/extprod/ports"
)

// StatsSource reports the queue and the outbox; *cardorder.Service is one.
type StatsSource interface {
	QueueStats(ctx context.Context) (ports.QueueStats, error)
	OutboxStats(ctx context.Context) (ports.OutboxStats, error)
}

// ObserveStats registers the observable gauges fed by src, read each time the meter provider
// collects: extprod.queue.depth, extprod.queue.due, extprod.queue.oldest_age,
// extprod.outbox.pending. Call it once the Service exists (the Service is built with the
// Observer, so it cannot be given to [New]); Unregister the result to stop reading src. A read
// that fails leaves its gauges out of that collection and is reported to the meter provider's
// error handler.
func (o *Observer) ObserveStats(src StatsSource) (metric.Registration, error) {
	depth, err1 := o.meter.Int64ObservableGauge("extprod.queue.depth", metric.WithUnit("{card}"),
		metric.WithDescription("Cards queued for the bureau (processing), leased or not."))
	due, err2 := o.meter.Int64ObservableGauge("extprod.queue.due", metric.WithUnit("{card}"),
		metric.WithDescription("Queued cards a dispatch pass could claim now."))
	oldest, err3 := o.meter.Float64ObservableGauge("extprod.queue.oldest_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest queued card; 0 when the queue is empty."))
	pending, err4 := o.meter.Int64ObservableGauge("extprod.outbox.pending", metric.WithUnit("{entry}"),
		metric.WithDescription("Outbox entries not yet delivered, by extprod.outbox.entry (notification, audit_event)."))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, errors.Join(ErrConfig, err)
	}
	notif := metric.WithAttributeSet(attribute.NewSet(AttrOutboxEntry.String("notification")))
	audit := metric.WithAttributeSet(attribute.NewSet(AttrOutboxEntry.String("audit_event")))
	return o.meter.RegisterCallback(func(ctx context.Context, ob metric.Observer) error {
		var errs []error
		if q, err := src.QueueStats(ctx); err != nil {
			errs = append(errs, err)
		} else {
			ob.ObserveInt64(depth, int64(q.Depth))
			ob.ObserveInt64(due, int64(q.Due))
			age := 0.0
			if !q.OldestQueuedAt.IsZero() {
				age = max(0, o.clock.Now().Sub(q.OldestQueuedAt).Seconds())
			}
			ob.ObserveFloat64(oldest, age)
		}
		if s, err := src.OutboxStats(ctx); err != nil {
			errs = append(errs, err)
		} else {
			ob.ObserveInt64(pending, int64(s.PendingNotifications), notif)
			ob.ObserveInt64(pending, int64(s.PendingEvents), audit)
		}
		return errors.Join(errs...)
	}, depth, due, oldest, pending)
}
