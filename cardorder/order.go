package cardorder

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/ports"
)

// OrderOptions is what the operator chose for one order and who acts.
type OrderOptions struct {
	// Actor is who orders: an operator for any user, or a self-service user for itself.
	Actor ports.Actor
	// ProductionType names one of the configured production types; empty means the default. When
	// the options require a choice, it must be set.
	ProductionType string
}

// plan is a checked, not yet stored order.
type plan struct {
	card     ports.Card
	resolved ports.Resolved // the options in force, once resolved (also when a later check fails)
	hasOpts  bool           // resolved is set
}

// OrderCard orders a card for the user with id userID (docs/use-case.md §2). The card ends in requested
// (approval step), processing (queued) or, when queueing is off, in whatever state the direct
// bureau order reached: ordered, processing (outcome unknown; the dispatcher retries it) or failed
// (the bureau refused, with its reason). Refusals are *Error values, checked in the order of
// docs/use-case.md §2; a refused order creates nothing.
func (s *Service) OrderCard(ctx context.Context, userID string, o *OrderOptions) (_ ports.Card, err error) {
	if o == nil {
		return ports.Card{}, errNoOrderOptions
	}
	ch, _ := channelFor(o.Actor, userID, false)
	ctx, end := s.cfg.Observer.Start(ctx, ports.Span{Op: ports.OpOrder, Channel: ch})
	defer func() {
		s.refused(ctx, ports.OpOrder, o.Actor, "", userID, err)
		end(ports.Outcome{Code: string(CodeOf(err)), Cards: one(err)})
	}()
	p, err := s.planOrder(ctx, userID, o, "", s.p.Options)
	if err != nil {
		return ports.Card{}, err
	}
	return s.place(ctx, p)
}

// channelFor authorises actor to order for userID and returns the channel (docs/use-case.md §3).
func channelFor(actor ports.Actor, userID string, batch bool) (ports.Channel, error) {
	if actor.ID == "" {
		return "", errNoActorID
	}
	switch {
	case batch && actor.Has(ports.RoleOperator):
		return ports.ChannelBatch, nil
	case batch:
	case actor.Has(ports.RoleSelfService) && actor.ID == userID:
		return ports.ChannelSelfService, nil
	case actor.Has(ports.RoleOperator):
		return ports.ChannelOperator, nil
	case actor.Has(ports.RoleSelfService):
		return "", refuse(CodeForbidden, "a self-service user may order only for itself")
	}
	return "", refuse(CodeForbidden, "ordering cards needs the operator role")
}

// planOrder runs every check of an order except the atomic open-order rule, in docs/use-case.md §2's order,
// and builds the card.
func (s *Service) planOrder(ctx context.Context, userID string, o *OrderOptions, channel ports.Channel, src ports.OptionsSource) (plan, error) {
	ch, err := channelFor(o.Actor, userID, channel == ports.ChannelBatch)
	if err != nil {
		return plan{}, err
	}
	user, err := s.p.Users.User(ctx, userID)
	if errors.Is(err, ports.ErrNotFound) {
		return plan{}, userNotFound()
	}
	if err != nil {
		return plan{}, wrapErr(CodeInternal, err, "read the user")
	}
	r, err := s.resolve(ctx, src, ports.OptionsRequest{User: &user, Actor: o.Actor, Channel: ch})
	if err != nil {
		return plan{}, wrapErr(CodeScriptFailed, err, "the option script failed")
	}
	p := plan{resolved: r, hasOpts: true}
	if !r.Options.Enabled {
		return p, useCaseDisabled()
	}
	if user.State != ports.UserActive {
		return p, notActive(user.State)
	}
	pt, err := pickProductionType(r.Options, o.ProductionType)
	if err != nil {
		return p, err
	}
	card, err := s.mapUserToCard(user, r.Overrides)
	if err != nil {
		return p, err
	}
	card.UserID = user.ID
	card.Channel = ch
	card.OrderedBy = o.Actor.ID
	card.ProductionType, card.LayoutID = pt.ID, pt.LayoutID
	card.Options, card.ScriptVersion = r.Options, r.ScriptVersion
	if card.Photo, err = s.fetchPhoto(ctx, user); err != nil {
		return p, err
	}
	if err := s.checkLayout(ctx, card); err != nil {
		return p, err
	}
	p.card = card
	return p, nil
}

// productionType picks the production type of an order (docs/use-case.md §3).
func pickProductionType(o ports.Options, chosen string) (ports.ProductionType, error) {
	switch {
	case o.SelectProductionType && chosen == "":
		return ports.ProductionType{}, refuse(CodeInvalidProductionType, "choose a production type")
	case !o.SelectProductionType && chosen != "" && chosen != o.DefaultProductionType:
		return ports.ProductionType{}, refuse(CodeInvalidProductionType,
			"production type %q cannot be chosen: choosing production types is off (selectProductionType), so name none, or %q, the default", chosen, o.DefaultProductionType)
	case chosen == "":
		chosen = o.DefaultProductionType
	}
	pt, ok := o.ProductionType(chosen)
	if !ok {
		return ports.ProductionType{}, refuse(CodeInvalidProductionType, "no production type %q", chosen)
	}
	return pt, nil
}

// cardFields are the mapped card data that must be valid before anything is ordered.
type cardFields struct {
	GivenName  string `json:"givenName" validate:"required,max=64"`
	FamilyName string `json:"familyName" validate:"required,max=64"`
	CommonName string `json:"commonName" validate:"required,max=64"`
	UPN        string `json:"upn" validate:"required,max=256"`
	Email      string `json:"email" validate:"omitempty,email,max=254"`
}

// plainlyValid reports, by hand, that f certainly passes its validate tags: every required
// field set, none longer than its max (in characters, as validator counts), and the email
// empty or of a plain shape (plainEmail) that validator's email rule accepts. It may say false
// for valid data; the caller then asks validator, which also words the failures.
func (f *cardFields) plainlyValid() bool {
	return within(f.GivenName, 1, 64) && within(f.FamilyName, 1, 64) && within(f.CommonName, 1, 64) &&
		within(f.UPN, 1, 256) && (f.Email == "" || within(f.Email, 1, 254) && plainEmail(f.Email))
}

// within reports whether s has min to max characters (runes), as validator's required and
// max count them.
func within(s string, min, max int) bool {
	if len(s) < min {
		return false
	}
	return len(s) <= max || utf8.RuneCountInString(s) <= max
}

// plainEmail reports whether s is an address of a plain shape: a local part of letters, digits
// and "_+-" in dot-separated runs, "@", then two or more dot-separated domain labels of letters,
// digits and "-" that start and end with a letter or digit, the last one with a letter. Every
// such address passes validator's email rule (net/mail's parser, then its pattern);
// TestPlainEmailPassesValidator and FuzzPlainEmail check it.
func plainEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	for run := range strings.SplitSeq(local, ".") {
		if run == "" {
			return false
		}
		for i := 0; i < len(run); i++ {
			if c := run[i]; !isAlnum(c) && c != '_' && c != '+' && c != '-' {
				return false
			}
		}
	}
	labels := 0
	last := ""
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" || !isAlnum(label[0]) || !isAlnum(label[len(label)-1]) {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return false
			}
		}
		labels++
		last = label
	}
	return labels >= 2 && isLetter(last[0]) && isLetter(last[len(last)-1])
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isAlnum(c byte) bool { return isLetter(c) || '0' <= c && c <= '9' }

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		return strings.SplitN(f.Tag.Get("json"), ",", 2)[0]
	})
	return v
}

// The card elements of the default mapping (docs/use-case.md §3).
const (
	ElemFirstName      = "FIRST_NAME"
	ElemLastName       = "LAST_NAME"
	ElemCommonName     = "COMMON_NAME"
	ElemUPN            = "UPN"
	ElemEmail          = "EMAIL"
	ElemOrganisation   = "ORGANISATION"
	ElemDepartment     = "DEPARTMENT"
	ElemEmployeeNumber = "EMPLOYEE_NUMBER"
	ElemTemporary      = "TEMPORARY"
	ElemSequence       = "SEQUENCE"
)

// maxElement bounds the length of any card element value, in characters.
const maxElement = 256

// mapUserToCard is the user→card mapping (the vendor's CardsMapUserToCard): common name
// "<given> <family>", UPN the user's UPN or else its email, the user's cost centre and delivery
// address, then the script's overrides. The photo is fetched apart (photo.go).
func (s *Service) mapUserToCard(u ports.User, ov *ports.CardOverrides) (ports.Card, error) {
	f := cardFields{GivenName: u.GivenName, FamilyName: u.FamilyName, CommonName: u.GivenName + " " + u.FamilyName, UPN: u.UPN, Email: u.Email}
	if f.UPN == "" {
		f.UPN = u.Email
	}
	if ov != nil {
		setIf(&f.CommonName, ov.CommonName)
		setIf(&f.UPN, ov.UPN)
		setIf(&f.Email, ov.Email)
	}
	kvs := [...][2]string{
		{ElemFirstName, f.GivenName}, {ElemLastName, f.FamilyName}, {ElemCommonName, f.CommonName}, {ElemUPN, f.UPN},
		{ElemEmail, f.Email}, {ElemOrganisation, u.Organisation}, {ElemDepartment, u.Department}, {ElemEmployeeNumber, u.EmployeeNumber},
	}
	n := 0
	for _, kv := range kvs {
		if kv[1] != "" {
			n++
		}
	}
	if ov != nil {
		for k := range ov.Elements {
			if !slices.ContainsFunc(kvs[:], func(kv [2]string) bool { return kv[0] == k && kv[1] != "" }) {
				n++ // a new element, not one that replaces a default (the size hint stays exact)
			}
		}
	}
	elems := make(map[string]string, n)
	for _, kv := range kvs {
		if kv[1] != "" {
			elems[kv[0]] = kv[1]
		}
	}
	if ov != nil {
		for k, v := range ov.Elements {
			elems[k] = v
		}
	}
	var bad fieldProblems
	// The tags of cardFields are the rules; validator checks them unless plainlyValid can tell
	// by hand that they hold (the usual case), and it alone words what fails.
	if !f.plainlyValid() {
		if err := s.validate.Struct(f); err != nil {
			var verrs validator.ValidationErrors
			if !errors.As(err, &verrs) {
				return ports.Card{}, wrapErr(CodeInternal, err, "validate card data")
			}
			for _, fe := range verrs {
				bad.add(fe.Field(), ruleText(fe))
			}
		}
	}
	for k, v := range elems {
		if len(v) > maxElement && utf8.RuneCountInString(v) > maxElement {
			bad.add("elements."+k, "longer than "+strconv.Itoa(maxElement))
		}
	}
	card := ports.Card{CommonName: f.CommonName, UPN: f.UPN, Email: f.Email, Elements: elems}
	mapDelivery(&card, u, ov, &bad)
	if len(bad) > 0 {
		return ports.Card{}, &Error{Code: CodeInvalidCardData, Detail: "the mapped card data is not valid", Fields: bad}
	}
	return card, nil
}

// fieldProblems collects the offending fields of a refusal (field → what is wrong); it is
// allocated only when a field is added, so a valid order pays nothing for it.
type fieldProblems map[string]string

func (b *fieldProblems) add(field, problem string) {
	if *b == nil {
		*b = make(fieldProblems, 2)
	}
	(*b)[field] = problem
}

func setIf(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func ruleText(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "required"
	case "max":
		return "longer than " + fe.Param()
	case "email":
		return "not an email address"
	}
	return "fails " + fe.Tag()
}

// checkLayout checks the card's elements against its layout's input fields, when the provider can
// list them (docs/use-case.md §7). A layout the provider does not know, or cannot list now, is left to the
// bureau: it refuses at dispatch and the card fails with its reason.
func (s *Service) checkLayout(ctx context.Context, c ports.Card) error {
	ls, ok := s.p.Provider.(ports.LayoutSource)
	if !ok {
		return nil
	}
	l, err := ls.Layout(ctx, c.LayoutID)
	if err != nil {
		return nil
	}
	var bad fieldProblems
	for _, f := range l.Fields {
		if f.Name == LayoutFieldPhoto {
			photoCheck(l, f, len(c.Photo) > 0, &bad)
			continue
		}
		v := c.Elements[f.Name]
		switch {
		case f.Required && v == "":
			bad.add(f.Name, "required by layout "+l.ID)
		case f.MaxLength > 0 && len(v) > f.MaxLength && utf8.RuneCountInString(v) > f.MaxLength:
			bad.add(f.Name, "longer than "+strconv.Itoa(f.MaxLength))
		}
	}
	if len(bad) > 0 {
		return &Error{Code: CodeInvalidCardData, Detail: "the card data does not fit layout " + l.ID, Fields: bad}
	}
	return nil
}

// place stores a planned order atomically with the open-order rule, then orders it directly when
// queueing is off.
func (s *Service) place(ctx context.Context, p plan) (ports.Card, error) {
	now := s.now()
	c := p.card
	c.ID = s.cfg.IDs.NewID()
	c.Attempt = 1
	c.CreatedAt = now
	c.TraceParent = s.traceParent(ctx)
	to := ports.StateProcessing
	if c.Options.ApprovalStep && !c.Temporary {
		to = ports.StateRequested
	}
	ch := s.change(ports.Card{}, c, to, c.OrderedBy, "")
	s.stampTraced(ctx, &ch.Event, c.TraceParent)
	one := singles.Get().(*single)
	defer one.release()
	one.card[0], one.event[0] = ch.Card, ch.Event
	created := ports.Creation{
		Cards:         one.card[:],
		Exclusive:     c.UserID != "" && !c.Options.AllowMultipleCardOrders,
		Events:        one.event[:],
		Notifications: ch.Notifications,
	}
	cards, err := s.p.Store.Create(ctx, created)
	if errors.Is(err, ports.ErrOpenOrderExists) {
		return ports.Card{}, s.openOrderExists(ctx, c.UserID)
	}
	if err != nil {
		return ports.Card{}, wrapErr(CodeInternal, err, "store card")
	}
	stored := cards[0] // may be one.card[0]: copied before one goes back to the pool
	s.moved(ctx, ch.Event, c.Channel)
	s.written(ctx, created.Events, created.Notifications)
	return s.sendIfDirect(ctx, stored), nil
}

// single holds the card and the audit event of a one-card creation as the slices the store
// takes. A store keeps copies of what it is given and holds on to none of it (ports.CardStore),
// so once Create returned and the card it returned was copied, the holder is reused: an order
// does not allocate (and leave to the GC) a card and an event beside the store's own copies.
type single struct {
	card  [1]ports.Card
	event [1]ports.AuditEvent
}

// release clears s and returns it to singles.
func (s *single) release() {
	*s = single{}
	singles.Put(s)
}

// singles pools the holders of one-card creations.
var singles = sync.Pool{New: func() any { return new(single) }}

// Preview is what an order would do, computed without side effects.
type Preview struct {
	// Card is the card that would be created (no id, not stored); zero when refused. It never
	// holds the photo's bytes: HasPhoto says whether one would be sent.
	Card ports.Card
	// HasPhoto reports whether the order would send the cardholder's photo (docs/use-case.md §3).
	HasPhoto bool
	// Options are the options in force for this order; nil when they were not resolved (the
	// script failed, or an earlier check refused: actor, own user, unknown user).
	Options *ports.Options
	// Refusal is why the order would be refused, nil when it would be accepted.
	Refusal error
}

// PreviewOrder shows what OrderCard would do with the same arguments, with no side effect
// (docs/use-case.md §2 step 3). Authentication and permission refusals are returned as the error; every
// other refusal is the Preview's Refusal.
func (s *Service) PreviewOrder(ctx context.Context, userID string, o *OrderOptions) (Preview, error) {
	if o == nil {
		return Preview{}, errNoOrderOptions
	}
	if _, err := channelFor(o.Actor, userID, false); err != nil {
		return Preview{}, err
	}
	return s.preview(ctx, userID, o, "", s.p.Options), nil
}

func (s *Service) preview(ctx context.Context, userID string, o *OrderOptions, ch ports.Channel, src ports.OptionsSource) Preview {
	p, err := s.planOrder(ctx, userID, o, ch, src)
	var pv Preview
	if p.hasOpts {
		opts := p.resolved.Options
		pv.Options = &opts
	}
	if err == nil && !p.card.Options.AllowMultipleCardOrders {
		if open, lerr := s.hasOpenOrder(ctx, userID); lerr != nil {
			err = wrapErr(CodeInternal, lerr, "list cards")
		} else if open {
			err = s.openOrderExists(ctx, userID)
		}
	}
	if err != nil {
		pv.Refusal = err
		return pv
	}
	p.card.State = ports.StateProcessing
	if p.card.Options.ApprovalStep {
		p.card.State = ports.StateRequested
	}
	p.card.Attempt = 1
	pv.HasPhoto, p.card.Photo = len(p.card.Photo) > 0, nil
	pv.Card = p.card
	return pv
}

var openStates = []ports.CardState{ports.StateRequested, ports.StateProcessing, ports.StateOrdered, ports.StateInProduction}

func (s *Service) hasOpenOrder(ctx context.Context, userID string) (bool, error) {
	page, err := s.p.Store.List(ctx, ports.CardFilter{UserID: userID, States: openStates, Limit: 1})
	return len(page.Cards) > 0, err
}

// DryRun is an administrator's test of an option script (installed or not) for a would-be order:
// the resolved options, the mapped card and the decision, with no side effect. Source nil uses the
// installed options. The order is evaluated as if Actor ordered for UserID: as a batch order when
// Channel is batch, otherwise on the channel that follows from the actor (selfservice when a
// self-service user orders for itself, else operator), exactly as OrderCard would.
type DryRun struct {
	Source         ports.OptionsSource
	UserID         string
	Actor          ports.Actor
	Channel        ports.Channel
	ProductionType string
}

// DryRun evaluates d for an administrator (docs/use-case.md §1: admin only).
func (s *Service) DryRun(ctx context.Context, admin ports.Actor, d DryRun) (Preview, error) {
	if err := require(admin, ports.RoleAdmin, "a dry run"); err != nil {
		return Preview{}, err
	}
	src := d.Source
	if src == nil {
		src = s.p.Options
	}
	return s.preview(ctx, d.UserID, &OrderOptions{Actor: d.Actor, ProductionType: d.ProductionType}, d.Channel, src), nil
}

// BatchResult is the outcome of one user's order in a batch: the card, or why it was refused.
type BatchResult struct {
	UserID string
	Card   ports.Card
	Err    error
}

// OrderBatch orders one card per user (the vendor's CardsAddonExtProdBoProcOrderMultiple), each
// on its own: one user's refusal never hides or undoes another's card. Results are in the order
// of userIDs. An actor without the operator role is refused as a whole. At most
// Config.DispatchConcurrency orders run at once (a batch with queueing off calls the bureau).
func (s *Service) OrderBatch(ctx context.Context, actor ports.Actor, userIDs []string, productionType string) (_ []BatchResult, err error) {
	ctx, end := s.begin(ctx, ports.Span{Op: ports.OpOrder, Channel: ports.ChannelBatch}, actor)
	var placed atomic.Int64
	defer func() { end(err, int(placed.Load())) }()
	if err := require(actor, ports.RoleOperator, "a batch order"); err != nil {
		return nil, err
	}
	out := make([]BatchResult, len(userIDs))
	var g errgroup.Group
	g.SetLimit(s.cfg.DispatchConcurrency)
	for i, id := range userIDs {
		g.Go(func() error {
			o := &OrderOptions{Actor: actor, ProductionType: productionType}
			p, err := s.planOrder(ctx, id, o, ports.ChannelBatch, s.p.Options)
			var c ports.Card
			if err == nil {
				c, err = s.place(ctx, p)
			}
			if err == nil {
				placed.Add(1)
			}
			s.refused(ctx, ports.OpOrder, actor, "", id, err)
			out[i] = BatchResult{UserID: id, Card: c, Err: err}
			return nil
		})
	}
	_ = g.Wait()
	return out, nil
}

// MaxTemporaryCards is the most temporary cards one order may create.
const MaxTemporaryCards = 9

// OrderTemporaryCards orders 1–9 cards with no cardholder and no approval step (the vendor's
// TempCardsAddonExtProdProcOrder), all or none. Their card data carries no personal elements, only
// TEMPORARY=true and a SEQUENCE number. productionType names any configured type (whether or not
// operators may select types); empty means the default.
func (s *Service) OrderTemporaryCards(ctx context.Context, actor ports.Actor, amount int, productionType string) (_ []ports.Card, err error) {
	ctx, end := s.begin(ctx, ports.Span{Op: ports.OpOrder, Channel: ports.ChannelTemporary}, actor)
	defer func() {
		if err == nil {
			end(nil, amount)
		} else {
			end(err, 0)
		}
	}()
	if err := require(actor, ports.RoleOperator, "ordering temporary cards"); err != nil {
		return nil, err
	}
	if amount < 1 || amount > MaxTemporaryCards {
		return nil, refuse(CodeInvalidAmount, "order 1 to %d temporary cards, not %d", MaxTemporaryCards, amount)
	}
	r, err := s.resolve(ctx, s.p.Options, ports.OptionsRequest{Actor: actor, Channel: ports.ChannelTemporary})
	if err != nil {
		return nil, wrapErr(CodeScriptFailed, err, "the option script failed")
	}
	if !r.Options.Enabled {
		return nil, useCaseDisabled()
	}
	// docs/use-case.md §5: the type named, or the default; the operator's selection rule does not apply.
	if productionType == "" {
		productionType = r.Options.DefaultProductionType
	}
	pt, ok := r.Options.ProductionType(productionType)
	if !ok {
		return nil, refuse(CodeInvalidProductionType, "no production type %q", productionType)
	}
	now := s.now()
	var created ports.Creation
	for i := 1; i <= amount; i++ {
		c := ports.Card{
			ID: s.cfg.IDs.NewID(), Temporary: true, Sequence: i, Channel: ports.ChannelTemporary,
			ProductionType: pt.ID, LayoutID: pt.LayoutID, OrderedBy: actor.ID,
			Options: r.Options, ScriptVersion: r.ScriptVersion, Attempt: 1, CreatedAt: now, TraceParent: s.traceParent(ctx),
			Elements: map[string]string{ElemTemporary: "true", ElemSequence: strconv.Itoa(i)},
		}
		if err := s.checkLayout(ctx, c); err != nil {
			return nil, err
		}
		ch := s.change(ports.Card{}, c, ports.StateProcessing, actor.ID, "")
		s.stamp(ctx, &ch.Event)
		created.Cards = append(created.Cards, ch.Card)
		created.Events = append(created.Events, ch.Event)
	}
	cards, err := s.p.Store.Create(ctx, created)
	if err != nil {
		return nil, wrapErr(CodeInternal, err, "store temporary cards")
	}
	for _, e := range created.Events {
		s.moved(ctx, e, ports.ChannelTemporary)
	}
	s.written(ctx, created.Events, nil)
	var g errgroup.Group
	g.SetLimit(s.cfg.DispatchConcurrency)
	for i := range cards {
		g.Go(func() error { cards[i] = s.sendIfDirect(ctx, cards[i]); return nil })
	}
	_ = g.Wait()
	return cards, nil
}

// errNoOrderOptions and errNoActorID refuse an order that does not say who orders.
var (
	errNoOrderOptions = refuse(CodeUnauthenticated, "no order options: pass &OrderOptions{Actor: ...} naming who orders")
	errNoActorID      = refuse(CodeUnauthenticated, "the actor has no id: set OrderOptions.Actor.ID to who orders")
)

func useCaseDisabled() *Error {
	return refuse(CodeUseCaseDisabled, "the Order card use case is disabled; an administrator enables it by setting enabled: true in the option script")
}

// openOrderExists refuses an order for a user with an open card order, naming that card (a card
// id is no personal data) when it can be read.
func (s *Service) openOrderExists(ctx context.Context, userID string) *Error {
	page, err := s.p.Store.List(ctx, ports.CardFilter{UserID: userID, States: openStates, Limit: 1})
	if err != nil || len(page.Cards) == 0 {
		return orderExists()
	}
	return refuse(CodeOrderExists, "the user has an open card order, card %s (%s); one open order per user", page.Cards[0].ID, page.Cards[0].State)
}
