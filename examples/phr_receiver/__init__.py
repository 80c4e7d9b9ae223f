"""An example PHR receiver for Image Share packages: a starting point for PHR vendors.

See README.md. ``receiver.create_receiver`` is the push endpoint (FastAPI), ``pull.pull_study``
the pull client, ``unpack.Unpacker`` the decrypt-verify-store core both use, ``keys`` the key
pair. Depends on fastapi, python-multipart, jwcrypto and httpx only — not on Image Share.
"""
