from kubectl_userns.cli.entry import main

main()
