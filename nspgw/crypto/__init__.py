"""nspgw.crypto"""
