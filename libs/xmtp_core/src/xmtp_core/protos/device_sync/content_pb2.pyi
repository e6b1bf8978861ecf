from xmtp_core.protos.device_sync import device_sync_pb2 as _device_sync_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class V1UserPreferenceUpdate(_message.Message):
    __slots__ = ("contents",)
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    contents: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, contents: _Optional[_Iterable[bytes]] = ...) -> None: ...

class DeviceSyncRequest(_message.Message):
    __slots__ = ("pin", "server_url", "deprecated_kind", "options")
    PIN_FIELD_NUMBER: _ClassVar[int]
    SERVER_URL_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_KIND_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    pin: str
    server_url: str
    deprecated_kind: _device_sync_pb2.BackupElementSelection
    options: _device_sync_pb2.BackupOptions
    def __init__(self, pin: _Optional[str] = ..., server_url: _Optional[str] = ..., deprecated_kind: _Optional[_Union[_device_sync_pb2.BackupElementSelection, str]] = ..., options: _Optional[_Union[_device_sync_pb2.BackupOptions, _Mapping]] = ...) -> None: ...

class DeviceSyncReply(_message.Message):
    __slots__ = ("request_id", "url", "encryption_key", "timestamp_ns", "kind", "metadata")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_KEY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_NS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    url: str
    encryption_key: DeviceSyncKeyType
    timestamp_ns: int
    kind: _device_sync_pb2.BackupElementSelection
    metadata: _device_sync_pb2.BackupMetadataSave
    def __init__(self, request_id: _Optional[str] = ..., url: _Optional[str] = ..., encryption_key: _Optional[_Union[DeviceSyncKeyType, _Mapping]] = ..., timestamp_ns: _Optional[int] = ..., kind: _Optional[_Union[_device_sync_pb2.BackupElementSelection, str]] = ..., metadata: _Optional[_Union[_device_sync_pb2.BackupMetadataSave, _Mapping]] = ...) -> None: ...

class DeviceSyncKeyType(_message.Message):
    __slots__ = ("aes_256_gcm",)
    AES_256_GCM_FIELD_NUMBER: _ClassVar[int]
    aes_256_gcm: bytes
    def __init__(self, aes_256_gcm: _Optional[bytes] = ...) -> None: ...
