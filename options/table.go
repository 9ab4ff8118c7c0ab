package options

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cardsaddon/extprod/ports"
)

// The table of options (docs/option-script.md): one row per option drives decoding (decode.go),
// the default script (DefaultSource), the package documentation (a test checks it lists every
// row) and what a dry run reports ([Script.DefaultsUsed]). The eight options of
// docs/use-case.md §3 are required in every script; an option a later release adds is
// optional: a script that leaves it out (one installed before the upgrade) keeps loading, and
// the option takes its default. Unknown names and wrong types stay errors.

// Kind is the type of an option's value.
type Kind string

// The kinds of option values.
const (
	// KindBool is true or false.
	KindBool Kind = "boolean"
	// KindString is a string.
	KindString Kind = "string"
	// KindProductionTypes is a non-empty list of { id, layoutId, label } objects.
	KindProductionTypes Kind = "production types"
)

// Option describes one option of the script.
type Option struct {
	// Name is the option's key in the script's options object.
	Name string
	// Kind is the type of its value.
	Kind Kind
	// Default is its default value: a bool, a string or a []ports.ProductionType, by Kind.
	Default any
	// Description says what it means, for the administrator; the default script shows it as
	// the option's comment.
	Description string
	// Required options must be in every script (the eight of the first release); an option
	// added later is optional and takes Default when a script leaves it out.
	Required bool

	// set stores a decoded value into ports.Options (nil: the option has no field yet, as in
	// the test that adds an option to a copy of the table).
	set func(*ports.Options, any)
}

// Table returns the options, in the order of the default script. The result is the caller's
// copy.
func Table() []Option {
	t := slices.Clone(optionTable)
	for i := range t {
		if pts, ok := t[i].Default.([]ports.ProductionType); ok {
			t[i].Default = slices.Clone(pts)
		}
	}
	return t
}

var optionTable = []Option{
	{Name: "enabled", Kind: KindBool, Default: false, Required: true,
		Description: "The Order card use case is off until an administrator enables it. It applies to every\nchannel: operator, self-service, batch orders and temporary cards.",
		set:         func(o *ports.Options, v any) { o.Enabled = v.(bool) }},
	{Name: "approvalStep", Kind: KindBool, Default: false, Required: true,
		Description: "true: an order first waits in state \"requested\" until an approver approves or rejects it.\nfalse: the order goes on at once (queued or ordered, see queueCards).",
		set:         func(o *ports.Options, v any) { o.ApprovalStep = v.(bool) }},
	{Name: "productionTypes", Kind: KindProductionTypes, Required: true,
		Default:     []ports.ProductionType{{ID: "standard", LayoutID: "L-100", Label: "Standard card"}},
		Description: "What can be produced. Each production type names a layout of the card bureau (GO Cards):\n  id       - the name an operator or a batch order uses to choose this type\n  layoutId - the bureau's layout for this type\n  label    - what the operator sees\nThe list must not be empty and the ids must be unique.",
		set:         func(o *ports.Options, v any) { o.ProductionTypes = v.([]ports.ProductionType) }},
	{Name: "defaultProductionType", Kind: KindString, Default: "standard", Required: true,
		Description: "The production type used when the operator does not choose one. It must be one of the ids\nin productionTypes.",
		set:         func(o *ports.Options, v any) { o.DefaultProductionType = v.(string) }},
	{Name: "selectProductionType", Kind: KindBool, Default: false, Required: true,
		Description: "true: the operator must choose one of productionTypes for every order.\nfalse: the default type is used, and naming any other type refuses the order.",
		set:         func(o *ports.Options, v any) { o.SelectProductionType = v.(bool) }},
	{Name: "queueCards", Kind: KindBool, Default: true, Required: true,
		Description: "true: the card goes to \"processing\" and a background dispatcher orders it at the bureau\nlater. false: the card is ordered at the bureau directly, during the order.",
		set:         func(o *ports.Options, v any) { o.QueueCards = v.(bool) }},
	{Name: "allowMultipleCardOrders", Kind: KindBool, Default: false, Required: true,
		Description: "false: a user may have only one open card order at a time (requested, processing, ordered\nor in production). true: a user may have several.",
		set:         func(o *ports.Options, v any) { o.AllowMultipleCardOrders = v.(bool) }},
	{Name: "sendCardOrderedEmail", Kind: KindBool, Default: true, Required: true,
		Description: "true: the cardholder gets the \"Card ordered\" email when the card reaches \"ordered\".",
		set:         func(o *ports.Options, v any) { o.SendCardOrderedEmail = v.(bool) }},
}

// names returns the option names of tbl.
func names(tbl []Option) []string {
	out := make([]string, len(tbl))
	for i, o := range tbl {
		out[i] = o.Name
	}
	return out
}

// optionsBlock renders tbl as the default script's options object, every option at its
// default with its description as a comment.
func optionsBlock(tbl []Option) string {
	var b strings.Builder
	b.WriteString("var options = {\n")
	for i, o := range tbl {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, line := range strings.Split(o.Description, "\n") {
			b.WriteString("  // " + line + "\n")
		}
		b.WriteString("  " + o.Name + ": " + jsLiteral(o.Default))
		if i < len(tbl)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("};")
	return b.String()
}

// jsLiteral renders a default value as JavaScript.
func jsLiteral(v any) string {
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v)
	case string:
		return strconv.Quote(v)
	case []ports.ProductionType:
		var b strings.Builder
		b.WriteString("[\n")
		for i, pt := range v {
			fmt.Fprintf(&b, "    { id: %s, layoutId: %s, label: %s }", strconv.Quote(pt.ID), strconv.Quote(pt.LayoutID), strconv.Quote(pt.Label))
			if i < len(v)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("  ]")
		return b.String()
	}
	panic(fmt.Sprintf("options: no JavaScript literal for %T", v))
}
