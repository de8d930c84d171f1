package stagecraft

// redacted stands in a problem for a value that holds a secret.
const redacted = "(redacted)"
