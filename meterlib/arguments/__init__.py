"""The Ledger's arguments, parsed and checked before anything is read or written.

Each function takes what a public method was given (and the instant, for the rules that
compare with now) and returns the validated request its decision takes, or raises the
`InvalidRequest` that says what was wrong: `grants` for create / update / delete, `usage`
for check / batch_track / finalize / events, `catalogue` for features, customers, entities.
"""
