"""Shared settings for every component: the image they run in."""

from . import __version__

#: Container image the components run in; its tag is the package version (see containers/).
BASE_IMAGE = f"us-docker.pkg.dev/labelloop/labelloop/components:{__version__}"
