from xmtp_core.protos.mls.message_contents import group_permissions_pb2 as _group_permissions_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ComponentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPONENT_TYPE_UNSPECIFIED: _ClassVar[ComponentType]
    COMPONENT_TYPE_BYTES: _ClassVar[ComponentType]
    COMPONENT_TYPE_STRING: _ClassVar[ComponentType]
    COMPONENT_TYPE_TLS_MAP_BYTES_BYTES: _ClassVar[ComponentType]
    COMPONENT_TYPE_TLS_MAP_INBOX_ID_BYTES: _ClassVar[ComponentType]
    COMPONENT_TYPE_TLS_SET_BYTES: _ClassVar[ComponentType]
    COMPONENT_TYPE_TLS_SET_INBOX_ID: _ClassVar[ComponentType]
COMPONENT_TYPE_UNSPECIFIED: ComponentType
COMPONENT_TYPE_BYTES: ComponentType
COMPONENT_TYPE_STRING: ComponentType
COMPONENT_TYPE_TLS_MAP_BYTES_BYTES: ComponentType
COMPONENT_TYPE_TLS_MAP_INBOX_ID_BYTES: ComponentType
COMPONENT_TYPE_TLS_SET_BYTES: ComponentType
COMPONENT_TYPE_TLS_SET_INBOX_ID: ComponentType

class ComponentPermissions(_message.Message):
    __slots__ = ("insert_policy", "update_policy", "delete_policy")
    INSERT_POLICY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_POLICY_FIELD_NUMBER: _ClassVar[int]
    DELETE_POLICY_FIELD_NUMBER: _ClassVar[int]
    insert_policy: _group_permissions_pb2.MetadataPolicy
    update_policy: _group_permissions_pb2.MetadataPolicy
    delete_policy: _group_permissions_pb2.MetadataPolicy
    def __init__(self, insert_policy: _Optional[_Union[_group_permissions_pb2.MetadataPolicy, _Mapping]] = ..., update_policy: _Optional[_Union[_group_permissions_pb2.MetadataPolicy, _Mapping]] = ..., delete_policy: _Optional[_Union[_group_permissions_pb2.MetadataPolicy, _Mapping]] = ...) -> None: ...

class ComponentMetadata(_message.Message):
    __slots__ = ("component_type", "permissions", "external_committer_permissions")
    COMPONENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_COMMITTER_PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    component_type: ComponentType
    permissions: ComponentPermissions
    external_committer_permissions: ComponentPermissions
    def __init__(self, component_type: _Optional[_Union[ComponentType, str]] = ..., permissions: _Optional[_Union[ComponentPermissions, _Mapping]] = ..., external_committer_permissions: _Optional[_Union[ComponentPermissions, _Mapping]] = ...) -> None: ...
