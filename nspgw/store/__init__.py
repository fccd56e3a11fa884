"""nspgw.store"""
