"""One decision per operation: `(state, context, arguments) → result`, with the effects to write.

Modules here read the loaded `CustomerState` and the `Context` and nothing else: no store, no
clock. The shell (`meterlib.operation`) loads, calls them, and applies what they return.
"""
