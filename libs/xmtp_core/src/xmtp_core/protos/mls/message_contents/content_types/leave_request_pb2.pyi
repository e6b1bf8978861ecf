from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class LeaveRequest(_message.Message):
    __slots__ = ("authenticated_note",)
    AUTHENTICATED_NOTE_FIELD_NUMBER: _ClassVar[int]
    authenticated_note: bytes
    def __init__(self, authenticated_note: _Optional[bytes] = ...) -> None: ...
