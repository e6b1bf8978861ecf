from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExternalCommitPolicyV1(_message.Message):
    __slots__ = ("allow_external_commit", "expires_at_ns", "expire_in_ns", "symmetric_key", "external_group_id")
    ALLOW_EXTERNAL_COMMIT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_NS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_IN_NS_FIELD_NUMBER: _ClassVar[int]
    SYMMETRIC_KEY_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    allow_external_commit: bool
    expires_at_ns: int
    expire_in_ns: int
    symmetric_key: bytes
    external_group_id: bytes
    def __init__(self, allow_external_commit: _Optional[bool] = ..., expires_at_ns: _Optional[int] = ..., expire_in_ns: _Optional[int] = ..., symmetric_key: _Optional[bytes] = ..., external_group_id: _Optional[bytes] = ...) -> None: ...

class ExternalCommitPolicyEntry(_message.Message):
    __slots__ = ("v1",)
    V1_FIELD_NUMBER: _ClassVar[int]
    v1: ExternalCommitPolicyV1
    def __init__(self, v1: _Optional[_Union[ExternalCommitPolicyV1, _Mapping]] = ...) -> None: ...
