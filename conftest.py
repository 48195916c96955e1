pytest_plugins = ["dyade.testing"]
