"""orgvend's HTTP face: the JSON API, the pages, auth. Build it with :func:`api.app.create_app`."""
