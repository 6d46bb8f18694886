"""survrad.reporting"""
