from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OneshotMessage(_message.Message):
    __slots__ = ("readd_request",)
    READD_REQUEST_FIELD_NUMBER: _ClassVar[int]
    readd_request: ReaddRequest
    def __init__(self, readd_request: _Optional[_Union[ReaddRequest, _Mapping]] = ...) -> None: ...

class ReaddRequest(_message.Message):
    __slots__ = ("group_id", "latest_commit_sequence_id")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    LATEST_COMMIT_SEQUENCE_ID_FIELD_NUMBER: _ClassVar[int]
    group_id: bytes
    latest_commit_sequence_id: int
    def __init__(self, group_id: _Optional[bytes] = ..., latest_commit_sequence_id: _Optional[int] = ...) -> None: ...
