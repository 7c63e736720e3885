"""carspotter: train a car make/model recognizer and ship it to phones.

Stages hand over folders on disk: ``carspotter train`` writes a run folder,
``carspotter export`` a bundle folder, ``carspotter parity`` checks a bundle.
"""

__version__ = "0.1.0"
