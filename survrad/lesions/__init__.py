"""survrad.lesions"""
