print("landmark")
