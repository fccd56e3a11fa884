"""nspgw.wire"""
