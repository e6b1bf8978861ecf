from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BackupElementSelection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKUP_ELEMENT_SELECTION_UNSPECIFIED: _ClassVar[BackupElementSelection]
    BACKUP_ELEMENT_SELECTION_MESSAGES: _ClassVar[BackupElementSelection]
    BACKUP_ELEMENT_SELECTION_CONSENT: _ClassVar[BackupElementSelection]
    BACKUP_ELEMENT_SELECTION_CLIENT_EVENT: _ClassVar[BackupElementSelection]
BACKUP_ELEMENT_SELECTION_UNSPECIFIED: BackupElementSelection
BACKUP_ELEMENT_SELECTION_MESSAGES: BackupElementSelection
BACKUP_ELEMENT_SELECTION_CONSENT: BackupElementSelection
BACKUP_ELEMENT_SELECTION_CLIENT_EVENT: BackupElementSelection

class BackupMetadataSave(_message.Message):
    __slots__ = ("elements", "exported_at_ns", "start_ns", "end_ns")
    ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_AT_NS_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    elements: _containers.RepeatedScalarFieldContainer[BackupElementSelection]
    exported_at_ns: int
    start_ns: int
    end_ns: int
    def __init__(self, elements: _Optional[_Iterable[_Union[BackupElementSelection, str]]] = ..., exported_at_ns: _Optional[int] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ...) -> None: ...

class BackupOptions(_message.Message):
    __slots__ = ("elements", "start_ns", "end_ns")
    ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    END_NS_FIELD_NUMBER: _ClassVar[int]
    elements: _containers.RepeatedScalarFieldContainer[BackupElementSelection]
    start_ns: int
    end_ns: int
    def __init__(self, elements: _Optional[_Iterable[_Union[BackupElementSelection, str]]] = ..., start_ns: _Optional[int] = ..., end_ns: _Optional[int] = ...) -> None: ...
