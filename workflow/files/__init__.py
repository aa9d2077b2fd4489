"""workflow.files: what a document's files go through before they are searched or
signed: text extraction (``extract``), Word/OpenDocument conversion with LibreOffice
(``convert``), appendices merged behind the main text (``appendix``) and OCR of scans
(``ocr``). Child processes are bounded in time and memory (``bounded``).

No Flask here: the use-cases of ``documents``, ``registry`` and ``jobs`` call these.
"""
