"""Signing layer: Flask-free PAdES signing, stamps, test PKI and validation over pyHanko."""
