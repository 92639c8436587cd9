"""The ``nfc`` command line tool."""
