"""Minutes (biên bản) of a meeting: draft, submit, approve, render, sign, verify, archive.

``models`` holds the table, ``content`` the structured sections, ``prefill`` builds a draft
from the meeting, ``render`` makes the PDF, ``signing`` signs and verifies it (PAdES),
``store`` keeps the files by SHA-256, ``archive`` streams the meeting's ZIP bundle and
``service`` ties the life cycle together.
"""
