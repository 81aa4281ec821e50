from kubectl_userns.cli.app import main

main()
