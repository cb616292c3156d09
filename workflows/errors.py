"""Errors shared by the workflows."""


class NotFound(LookupError):
    """No such record among those the person may see: another advocate's id gets the same answer
    as an id that never existed."""
