"""Drop-in replacements for other accelerator packages' APIs, backed by wsfast.

``wsfast.compat.wsaccel``: the API of wsaccel (unmaintained, and broken on new Pythons and on
PyPy), so code written for it switches by changing an import.
"""
