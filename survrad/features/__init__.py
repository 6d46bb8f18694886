"""survrad.features"""
