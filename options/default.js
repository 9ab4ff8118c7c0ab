// Options of the use case "Order card (external production)".
//
// This script is the complete configuration of the use case. Every option below is at its
// default value; edit the values you need and keep the names exactly as they are: an unknown
// option name, a missing option or a value of the wrong type is an error, so a typo can never
// silently fall back to a default. The script runs in a sandbox: it sees only the order's
// context, has no file, network or host access, and must finish each run within a short time
// limit (50 ms by default).
/*OPTIONS*/

// Optional: compute the options per order. Without resolve, the options above apply to every
// order (and are computed once, when the script is installed). With resolve, it is called for
// every order and returns the complete options for that order. ctx is a read-only copy:
//   ctx.user    - the cardholder: { id, state, givenName, familyName, email, upn, organisation,
//                 department, employeeNumber, attributes }, or null for temporary cards
//   ctx.actor   - who orders: { id, roles }
//   ctx.channel - "operator", "selfservice", "batch" or "temporary"
// Remove the comment markers to use it. Example: queue the cards of one organisation for
// approval, and keep the defaults for everybody else.
//
// function resolve(ctx) {
//   if (ctx.user !== null && ctx.user.organisation === "Research") {
//     return Object.assign({}, options, { approvalStep: true });
//   }
//   return options;
// }

// Optional: override the mapping of the user's data onto the card. The fields it returns
// replace the default ones; leave a field out to keep its default. The defaults are:
//   commonName - givenName + " " + familyName
//   upn        - user.upn, or user.email when the user has no UPN
//   email      - user.email
//   elements   - the card's data fields: FIRST_NAME, LAST_NAME, COMMON_NAME, UPN, EMAIL,
//                ORGANISATION, DEPARTMENT, EMPLOYEE_NUMBER; the ones you return replace or add
//                to them (names and values are strings)
// It is not called for temporary cards, which carry no personal data. Remove the comment
// markers to use it. Example: family name first, and the department on the card.
//
// function mapUserToCard(user) {
//   return {
//     commonName: user.familyName + ", " + user.givenName,
//     elements: { DEPARTMENT: user.department.toUpperCase() }
//   };
// }
