"""nspgw.core"""
