"""survrad.evaluation"""
