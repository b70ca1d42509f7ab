"""Rules: pure functions of grants and time (deduction order, deduction, resets, rollovers,
balances). They import models and values, never a store or a clock."""
