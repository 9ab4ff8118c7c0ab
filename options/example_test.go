package options_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/cardsaddon/extprod/options"
	"github.com/cardsaddon/extprod/ports"
)

// Load a script that enables the use case and asks for approval of self-service orders, then
// resolve the options of two orders.
func ExampleLoad() {
	src := strings.Replace(options.DefaultSource(), "enabled: false", "enabled: true", 1) + `
function resolve(ctx) {
  return Object.assign({}, options, { approvalStep: ctx.channel === "selfservice" });
}`
	script, err := options.Load(src, options.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	user := &ports.User{ID: "u-1", State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace"}
	for _, ch := range []ports.Channel{ports.ChannelOperator, ports.ChannelSelfService} {
		r, err := script.Resolve(context.Background(), ports.OptionsRequest{User: user, Channel: ch})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: enabled=%v approvalStep=%v type=%s\n", ch, r.Options.Enabled, r.Options.ApprovalStep, r.Options.DefaultProductionType)
	}

	// An invalid script names the line and the option.
	_, err = options.Load(strings.Replace(options.DefaultSource(), "queueCards: true", `queueCards: "yes"`, 1), options.Limits{})
	fmt.Println(err)
	// Output:
	// operator: enabled=true approvalStep=false type=standard
	// selfservice: enabled=true approvalStep=true type=standard
	// invalid option script: line 37, column 3: in top level: option queueCards: must be true or false, got string
}
