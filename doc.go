// Package malipo is the domain of the Malipo payment gateway: money,
// merchants and their integrations, the payment state machine, ledger rules
// and error kinds. It does no I/O; every other package depends on it and it
// depends on none of them.
package malipo
