pytest_plugins = ["tests.kit"]
