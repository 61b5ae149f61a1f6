"""Notifications: tell participants what happened, by e-mail, SMS and push, in Vietnamese and English. (Skeleton.)"""
