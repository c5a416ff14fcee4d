"""The receiver: authenticates the platform's postbacks and publishes them to the product topic."""
