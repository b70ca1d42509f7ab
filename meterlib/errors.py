"""Every error meterlib raises on purpose.

```
MeterError(Exception)                      .code is stable and machine-readable
├── InvalidRequest(MeterError, ValueError)  invalid_inputs | invalid_request
├── NotFound(MeterError, LookupError)
│   ├── CustomerNotFound                    customer_not_found   .customer_id
│   ├── FeatureNotFound                     feature_not_found    .feature_id
│   ├── EntityNotFound                      entity_not_found     .entity_id
│   ├── BalanceNotFound                     balance_not_found
│   └── LockNotFound                        lock_not_found       .lock_id
├── DuplicateIdempotencyKey                 duplicate_idempotency_key  .idempotency_key
├── AlreadyExists                           already_exists
└── StoreError                              store_error (the backend's error is in __cause__)
```

Not enough balance is never an error: `check` answers `allowed=False` and `track` caps.
"""

from __future__ import annotations


class MeterError(Exception):
    """Base of every error meterlib raises on purpose; `.code` is stable."""

    code = "meter_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequest(MeterError, ValueError):
    """A malformed argument (`invalid_inputs`) or a request Autumn refuses (`invalid_request`)."""

    code = "invalid_inputs"

    def __init__(
        self, message: str, *, code: str = "invalid_inputs", field: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.field = field


class NotFound(MeterError, LookupError):
    """Something named by the call does not exist."""

    code = "not_found"


class CustomerNotFound(NotFound):
    """The customer does not exist (create one with `create_customer` or `create`)."""

    code = "customer_not_found"

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"Customer {customer_id} not found")
        self.customer_id = customer_id


class FeatureNotFound(NotFound):
    """The feature (or the event name) is not in the catalogue."""

    code = "feature_not_found"

    def __init__(self, feature_id: str, *, message: str | None = None) -> None:
        super().__init__(message or f"Feature {feature_id} not found")
        self.feature_id = feature_id


class EntityNotFound(NotFound):
    """The entity does not exist for that customer."""

    code = "entity_not_found"

    def __init__(self, entity_id: str, *, customer_id: str | None = None) -> None:
        super().__init__(f"Entity {entity_id} not found")
        self.entity_id = entity_id
        self.customer_id = customer_id


class BalanceNotFound(NotFound):
    """`update` or `delete` matched no live grant."""

    code = "balance_not_found"


class LockNotFound(NotFound):
    """The lock was never created, or is already finalized or released."""

    code = "lock_not_found"

    def __init__(self, lock_id: str) -> None:
        super().__init__(f"Lock not found for ID: {lock_id}")
        self.lock_id = lock_id


class DuplicateIdempotencyKey(MeterError):
    """The idempotency key was used within the last 24 hours; nothing was applied."""

    code = "duplicate_idempotency_key"

    def __init__(self, idempotency_key: str) -> None:
        super().__init__(
            f"Another request with idempotency key {idempotency_key} has already been received"
        )
        self.idempotency_key = idempotency_key


class AlreadyExists(MeterError):
    """A `balance_id` or `lock_id` that is already in use."""

    code = "already_exists"


class StoreError(MeterError):
    """The store failed; the backend's own exception is in `__cause__`."""

    code = "store_error"
