"""Small interfaces with a local and a cloud implementation: labeler, trainer, registry, storage."""
