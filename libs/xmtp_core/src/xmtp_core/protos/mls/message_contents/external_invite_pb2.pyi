from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExternalInvitePayloadV1(_message.Message):
    __slots__ = ("service_pointer", "external_group_id", "symmetric_key")
    SERVICE_POINTER_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    SYMMETRIC_KEY_FIELD_NUMBER: _ClassVar[int]
    service_pointer: bytes
    external_group_id: bytes
    symmetric_key: bytes
    def __init__(self, service_pointer: _Optional[bytes] = ..., external_group_id: _Optional[bytes] = ..., symmetric_key: _Optional[bytes] = ...) -> None: ...

class ExternalInvitePayload(_message.Message):
    __slots__ = ("v1",)
    V1_FIELD_NUMBER: _ClassVar[int]
    v1: ExternalInvitePayloadV1
    def __init__(self, v1: _Optional[_Union[ExternalInvitePayloadV1, _Mapping]] = ...) -> None: ...

class EncryptedGroupInfoBlobV1(_message.Message):
    __slots__ = ("nonce", "ciphertext", "epoch", "group_state_hash", "expires_at_ns")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    GROUP_STATE_HASH_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_NS_FIELD_NUMBER: _ClassVar[int]
    nonce: bytes
    ciphertext: bytes
    epoch: int
    group_state_hash: bytes
    expires_at_ns: int
    def __init__(self, nonce: _Optional[bytes] = ..., ciphertext: _Optional[bytes] = ..., epoch: _Optional[int] = ..., group_state_hash: _Optional[bytes] = ..., expires_at_ns: _Optional[int] = ...) -> None: ...

class EncryptedGroupInfoBlob(_message.Message):
    __slots__ = ("v1",)
    V1_FIELD_NUMBER: _ClassVar[int]
    v1: EncryptedGroupInfoBlobV1
    def __init__(self, v1: _Optional[_Union[EncryptedGroupInfoBlobV1, _Mapping]] = ...) -> None: ...
