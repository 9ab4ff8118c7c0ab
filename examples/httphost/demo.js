// The example host's demo options: the use case enabled, two production types (the employee
// card and a temporary card without personal fields), orders queued for the background
// dispatcher, and an approval step for the organisation "Finance".
var options = {
  enabled: true,
  approvalStep: false,
  productionTypes: [
    { id: "standard", layoutId: "L-100", label: "Standard card" },
    { id: "temporary", layoutId: "L-TEMP", label: "Temporary card" }
  ],
  defaultProductionType: "standard",
  selectProductionType: false,
  queueCards: true,
  allowMultipleCardOrders: false,
  sendCardOrderedEmail: true
};

// Finance needs approval; temporary cards use the temporary layout.
function resolve(ctx) {
  if (ctx.channel === "temporary") {
    return Object.assign({}, options, { defaultProductionType: "temporary" });
  }
  if (ctx.user !== null && ctx.user.organisation === "Finance") {
    return Object.assign({}, options, { approvalStep: true });
  }
  return options;
}
