"""cps: the Cloud Portable Storage specification toolkit.

The toolkit is a small compiler: sources (``spec/``, ``schemas/``) are loaded once into a
:class:`cps.model.Spec`; checks, renderers and the differ are functions of that model.
"""

__version__ = "0.1.0"
