"""Wallet sign-in: Sign-In with Ethereum (EIP-4361) challenges, signatures recovered with
eth-account, and NFT ownership from an EVM node or, in development, a JSON file."""
