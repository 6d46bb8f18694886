"""survrad.models"""
