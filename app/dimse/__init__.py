"""DIMSE services for PACS and modalities (pynetdicom): C-ECHO, C-STORE, C-FIND."""
