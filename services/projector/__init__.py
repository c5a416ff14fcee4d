"""The projector: turns the product topic into catalog views and serves them over HTTP."""
