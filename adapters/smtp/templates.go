package smtp

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

//go:embed templates/*
var defaultTemplates embed.FS

// DefaultTemplates returns the embedded default templates (English), to copy and translate:
// for each kind K of [Kinds], "K.subject.txt" and "K.txt" (text/template) and "K.html"
// (html/template), in the directory "templates".
func DefaultTemplates() fs.FS {
	sub, _ := fs.Sub(defaultTemplates, "templates") // cannot fail: the directory is embedded
	return sub
}

// Kinds are the notifications the mailer sends (docs/use-case.md §6).
var Kinds = []ports.NotificationKind{
	ports.NotifyApprovalNeeded, ports.NotifyOrderApproved, ports.NotifyOrderRejected, ports.NotifyCardOrdered,
}

// TemplateData is what every template is executed with. Text fields that come from people
// (names, the reason) are cleaned of control characters; html/template escapes them in HTML.
// It carries no address and no photo.
type TemplateData struct {
	Kind           ports.NotificationKind
	NotificationID string
	CardID         string
	// Reason is the approver's reason of a rejection ("" otherwise); it may span lines.
	Reason string
	// RecipientName is the recipient's display name; "" when unknown and for the approvers.
	RecipientName string
	// ToApprovers is true for the mail to the approvers as a group.
	ToApprovers bool
	// At is when the cause of the notification happened.
	At time.Time
	// CardURL links to the card when Config.CardURL is set, else "".
	CardURL string
}

// kindTemplates are the parsed templates of one kind.
type kindTemplates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// loadTemplates parses the templates of every kind, each from override when it has the file,
// else from the defaults, and tries each on sample data so a broken template fails New, not a
// send.
func loadTemplates(override fs.FS) (map[ports.NotificationKind]kindTemplates, error) {
	defaults := DefaultTemplates()
	read := func(name string) (string, error) {
		if override != nil {
			b, err := fs.ReadFile(override, name)
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("template %s: %w", name, err)
			}
		}
		b, err := fs.ReadFile(defaults, name)
		if err != nil {
			return "", fmt.Errorf("template %s: %w", name, err)
		}
		return string(b), nil
	}
	out := make(map[ports.NotificationKind]kindTemplates, len(Kinds))
	var errs []error
	for _, k := range Kinds {
		var kt kindTemplates
		var err error
		name := string(k)
		var src string
		if src, err = read(name + ".subject.txt"); err == nil {
			kt.subject, err = texttemplate.New(name + ".subject.txt").Option("missingkey=error").Parse(src)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if src, err = read(name + ".txt"); err == nil {
			kt.text, err = texttemplate.New(name + ".txt").Option("missingkey=error").Parse(src)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if src, err = read(name + ".html"); err == nil {
			kt.html, err = htmltemplate.New(name + ".html").Option("missingkey=error").Parse(src)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, sample := range samples(k) {
			if _, _, _, err := kt.render(sample); err != nil {
				errs = append(errs, err)
				break
			}
		}
		out[k] = kt
	}
	return out, errors.Join(errs...)
}

// samples are the data a template is tried on when it is loaded: with every field set, and with
// every optional field empty.
func samples(k ports.NotificationKind) []TemplateData {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return []TemplateData{
		{Kind: k, NotificationID: "n-sample", CardID: "c-sample", Reason: "sample reason\nsecond line",
			RecipientName: "Sample Name", At: at, CardURL: "https://example.org/cards/c-sample"},
		{Kind: k, NotificationID: "n-sample", CardID: "c-sample", ToApprovers: true, At: at},
	}
}

// render executes the three templates of a kind.
func (kt kindTemplates) render(d TemplateData) (subject, text, html string, err error) {
	var b bytes.Buffer
	if err = kt.subject.Execute(&b, d); err != nil {
		return "", "", "", err
	}
	subject = cleanLine(b.String(), maxSubject)
	b.Reset()
	if err = kt.text.Execute(&b, d); err != nil {
		return "", "", "", err
	}
	text = strings.TrimLeft(b.String(), "\n")
	b.Reset()
	if err = kt.html.Execute(&b, d); err != nil {
		return "", "", "", err
	}
	return subject, text, b.String(), nil
}
