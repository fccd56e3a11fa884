"""nspgw.adapters"""
