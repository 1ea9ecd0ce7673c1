from directory import create_app

app = create_app()
