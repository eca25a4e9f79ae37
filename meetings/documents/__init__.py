"""Meeting documents: PDFs stored once by SHA-256, versions, distribution, read receipts,
confidential per-recipient copies, full-text search and per-page comments.

``service`` is the entry point for the transport layer; the other modules each do one job
(``storage`` files, ``validation`` pypdf checks, ``stamping`` watermarks, ``search`` text).
"""
