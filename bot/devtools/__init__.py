"""Tools for people working on Relais, not for running it.

`relais try` (tryout.py): chat with the real bot in a terminal, on the sandbox;
`relais transcripts` (transcripts.py): the conversations shown in docs/, played on the sandbox;
demo.py: the demo cohort both of them start from;
`relais i18n update|check` (catalogs.py): the translation catalogs kept in step with the code.
"""
